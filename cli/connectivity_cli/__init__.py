"""cportal: the Connectivity Portal's API from the command line."""

__version__ = "0.1.0"
