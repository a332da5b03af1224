"""Madoguchi (窓口): an internal FAQ bot for a Japanese general-affairs department."""

__version__ = "0.1.0"
