"""Runs localstripe (a stateful Stripe stand-in from PyPI) for Levy's tests: on 127.0.0.1 only, on the port given,
holding its objects in memory only (localstripe itself binds every interface and pickles its whole store, card
numbers included, to /tmp/localstripe.pickle after every change)."""
import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
