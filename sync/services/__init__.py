"""Account administration (SPEC §1, §6): the account screen's edits, passwords and reset links.

`policy` holds the pure checks; `accounts`, `passwords` and `resets` apply them to the store, each
inside the caller's transaction, so a refused request changes nothing.
"""
