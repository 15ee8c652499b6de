package bench;

/** An error that ends the run: Silo did not start, the machine lacks something required, ... */
final class Fatal extends RuntimeException {
    Fatal(String message) {
        super(message);
    }

    Fatal(String message, Throwable cause) {
        super(message, cause);
    }
}
