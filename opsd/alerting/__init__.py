"""Alerting: the pure state machine (`engine`), silences, the observer that feeds it recorded
runs (`observer`), messages and the outbox (`notify`), sends whose outcome is unknown
(`uncertain`), and Apprise's child process (`deliver`), which dies with its parent
(`parent_death`).
"""
