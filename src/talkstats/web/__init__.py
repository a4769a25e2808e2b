"""The wallboard: a live wall display served by talkstats itself.

``app.create_app(service)`` is the whole application (the API plus the wallboard);
``routes`` has the pages, sign-in and the live stream, ``sessions`` the cookie,
``live`` the one producer per account and filter that fans updates out to every
open screen, ``text`` the translatable text, ``pages`` the HTML, and ``static/`` the
browser code and the built third-party assets (see web-src/ at the repository root).
"""
