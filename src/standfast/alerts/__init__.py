"""Alerts: telling the administrator what happened (recipients, delivery, replication).

``config`` the recipients and their validation; ``events`` which engine events are
alerts and their delivered forms; ``deliver`` one attempt to one recipient;
``dispatch`` queues, workers, retries; ``service`` a cluster member's alerts.
"""
