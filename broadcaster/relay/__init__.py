"""Relay of alerts into personal WeChat and QQ groups by their owners, tracked and escalated."""
