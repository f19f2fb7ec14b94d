"""The configuration (SPEC §8): the settings models (`settings`), reading and overriding them
(`load`, `env`, `paths`), explaining what is wrong (`explain`, `schema`) and secrets (`secrets`).
Importing the package loads none of them: `--help` stays light."""
