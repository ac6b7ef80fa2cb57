"""`rtstyle serve`: style transfer as an HTTP service.

Layout, outside in: `app` builds the FastAPI application around a `state.Service` (settings,
shared models, jobs), which routes receive as a dependency (`state.ServiceDep`); `http` is what
every route shares (errors, token, limits); `api` the versioned routes for styles, images and
jobs; `live` the WebRTC and MJPEG views;
`requests` and `uploads` check what clients send; `models` shares loaded networks and
batches frames across clients; `jobs` and `store` run and keep video jobs (SQLite).
Needs the `serve` extra: pip install 'rtstyle[serve]'.
"""
