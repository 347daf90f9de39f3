"""peanut: drive and debug one OCC-controlled or FairMQ process."""
