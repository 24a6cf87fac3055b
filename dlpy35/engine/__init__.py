"""The engine: the device, symbolic networks, one trainer, and the policies and records around it."""
