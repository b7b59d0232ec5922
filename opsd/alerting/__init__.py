"""Alerting: the pure state machine (`engine`), silences, the observer that feeds it recorded
runs (`observer`), messages and the outbox (`notify`), and Apprise's child process (`deliver`).
"""
