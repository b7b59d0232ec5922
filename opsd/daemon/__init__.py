"""The `opsd run` process: scheduler, HTTP listener (/metrics, /healthz) and sd_notify.

`service.Daemon` owns them; each lives in its own module here.
"""
