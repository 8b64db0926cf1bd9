"""Judging logic, independent of HTTP: plain classes that get their engines through the constructor."""
