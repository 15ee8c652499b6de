// Calls to Silo's public HTTP API: the same routes as curl, with the credential the person signed in with.
// Errors arrive as RFC 9457 problem bodies; ApiError carries their title and detail for display.

export class ApiError extends Error {
  constructor(status, problem) {
    const title = (problem && problem.title) || (status ? 'HTTP ' + status : 'Network error');
    const detail = (problem && problem.detail) || '';
    super(detail ? title + ': ' + detail : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = (problem && problem.type) || '';
    this.problem = problem || {};
  }
}

/**
 * One request. `token` goes in the Authorization header (never in the URL); `body` is sent as JSON unless it is
 * already a string (then with `contentType`). Answers {status, etag, data}; throws ApiError for anything not 2xx.
 */
export async function call(method, path, { token, body, contentType, headers = {} } = {}) {
  const sent = { Accept: 'application/json, application/problem+json', ...headers };
  if (token) {
    sent.Authorization = 'Bearer ' + token;
  }
  let payload;
  if (body !== undefined) {
    sent['Content-Type'] = contentType || 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: payload, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch (error) {
    throw new ApiError(0, { title: 'Network error', detail: 'Silo did not answer (' + error.message + ')' });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, data);
  }
  return { status: response.status, etag: response.headers.get('ETag'), data };
}

/** A query string from an object, leaving out empty values; keys may contain brackets (filter[name]). */
export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(value));
    }
  }
  return parts.length ? '?' + parts.join('&') : '';
}

/** A path segment from user input (a slug, a collection name, an id). */
export function segment(value) {
  return encodeURIComponent(value);
}
