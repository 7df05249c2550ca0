"""Computer Use Demo: Claude drives a virtual Linux desktop through the computer-use tools."""
