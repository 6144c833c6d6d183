"""Modbus/SunSpec: model definitions, a sans-I/O register codec and an asyncio SunSpec client."""
