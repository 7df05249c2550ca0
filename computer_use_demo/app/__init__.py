"""The Streamlit chat's parts: rendering events, running the agent for a session, the saved
settings. ``computer_use_demo/streamlit.py`` stays the entry file. It may import every layer
below it (sessions, agent, tools, desktop), never the door."""
