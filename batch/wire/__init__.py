"""Talking to Microsoft: the REST client and signing in.

client.py is the only module of pcbatch's own side that imports aiohttp; it answers in
core.retry.Reply values. auth.py (token providers), auth_msal.py (MSAL), authority.py (where
MSAL signs in), credentials.py (which credentials the environment gives), login.py and
token_store.py (`pcbatch login`'s cache).

May import: batch.core, batch.durable (the token cache is written as every file is).
"""
