"""Scale-out: a library of videos converted as segments on a Ray cluster (`batch`, `segments`,
`ray_tasks`), and the service's model as a Ray Serve deployment (`ray_serve`)."""
