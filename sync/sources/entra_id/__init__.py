"""Microsoft Entra ID as the directory (`kind = "entra_id"`, SPEC §13, docs/entra_id.md).

credentials.py signs in with MSAL's client-credentials flow, graph.py makes Microsoft Graph
requests and maps their failures, fields.py maps a Graph user to a directory user, source.py
reads `/v1.0/users/delta`.
"""
