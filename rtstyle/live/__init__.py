"""`rtstyle live`: the stylized stream in an OpenCV window, with hotkeys.

One piece per concern, so each is tested without a display: `keys` (the key table: what
each key does, its help text), `switcher` (the n/b styles, loaded off the UI thread),
`quality` (`--quality auto`'s ladder of network sizes), `view` (what the overlay says),
`captures` (snapshots and recordings), and `app`, the loop that joins them to the window
sink (`rtstyle.sinks.window`). Nothing is imported here: `keys` stays torch- and
OpenCV-free for the docs generator.
"""
