"""Import-only stand-in for flash_attn (tests only)."""
