"""Who may call, and how often: credentials, API tokens and rate limits.

Not HTTP: the service uses these to create and verify secrets, the API to check a
request's Authorization header and to count requests.
"""
