"""Resource managers (``local``; batch systems later), each a pluggy plugin registering itself by name."""
