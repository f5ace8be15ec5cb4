"""The portal: the layer on top of the domain apps (home, inbox, personal calendar feed, demo data, commands)."""
