"""Google Workspace as a directory (`kind = "google_workspace"`): the Admin SDK Directory API.

- `fields`: which user fields to ask for and how a user resource becomes a `DirectoryUser` (pure).
- `client`: the service-account key, the HTTP transport, retries and the one error mapping.
- `source`: the paged `users.list` read that keeps the `DirectorySource` contract.

This package's `__init__` imports nothing from Google, so the configuration can check a
field path without loading the client library.
"""
