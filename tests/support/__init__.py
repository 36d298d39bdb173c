"""Test support: code the tests share (synthetic motions), never shipped."""
