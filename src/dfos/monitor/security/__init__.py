"""The monitor's security, in one place:

- :mod:`.guard`: security headers and the Content-Security-Policy on every response, request size limits;
- :mod:`.login`: the login secret (a password or a printed token, kept as a hash), the login rate
  limit, where a login may send the browser;
- :mod:`.sessions`: the signed session cookie, the server-side session table (logout, key rotation),
  the session's CSRF token;
- :mod:`.access`: who may read a page and who may change something (login required, CSRF checked,
  form limits), the login and logout routes;
- :mod:`.paths`: the workspace files the file view may read (an allow-list);
- :mod:`.audit`: the audit log of logins, edits and launches.

``docs/security.md`` lists the promises and the tests that hold them.  (Nothing is imported here:
:mod:`.access` needs the request plumbing of :mod:`dfos.monitor.web`, which needs the others.)
"""
