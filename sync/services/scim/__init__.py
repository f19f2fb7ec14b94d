"""The SCIM service (SPEC §17): what an identity provider's push does to the tenant's SCIM
directory. Each push is one transaction and marks the tenant's run as due; the run itself
(plan, names, guards, audit, invitations) is the ordinary one, reading the directory through
the `scim` source.

Resources are parsed, patched, filtered and serialised with scim2-models (python-scim): its
pydantic models, its PATCH engine (with the tolerances Entra ID needs: capitalised operations,
booleans as strings, remove-by-value, filter paths that create the entry) and its own filter
grammar and evaluator. docs/scim.md says why no other parser is used.
"""
