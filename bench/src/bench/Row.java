package bench;

/** One line of the report's table: the row number, what it measures, Silo's figure, the raw limit, their ratio. */
record Row(String id, String name, String silo, String raw, String ratio, String notes) {}
