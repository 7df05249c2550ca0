"""The desktop half, the body: the screen, input, processes (the one place that starts them),
the per-desktop lock, Firefox's policy, and the desktop server. It speaks physical pixels,
processes and files, and imports nothing else of this package."""
