"""The policies the simulator replays side by side: modelscaler's engine and its peers."""
