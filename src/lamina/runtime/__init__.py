"""Code that runs inside execution environments.

Everything under this package uses only the standard library and imports nothing else from
lamina, because it runs on the function's own interpreter (any of Python 3.9 … 3.13), not on
the server's. The host imports ``protocol`` from here so both sides share one wire format.
"""
