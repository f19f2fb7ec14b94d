"""`clomo-sync web`: the self-service password pages (issue 9, SPEC §6).

A person who forgot a password names the tenant and account, picks which of the account's
addresses gets a link, opens the link and sets a new password under the policy. Tokens and
passwords are handled by `sync.services.resets`; this package is only the pages around it.
"""
