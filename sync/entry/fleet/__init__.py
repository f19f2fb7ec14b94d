"""The fleet (SPEC §11): `clomo-sync worker` processes sharing the work through Procrastinate, a
PostgreSQL task queue. Tasks are thin: they load the tenant from the store and call the runner.
"""
