"""What the subscriber check publishes and its alarms (infra/stacks/kpi.py) read: one count per topic."""
METRIC = "ConfirmedSubscribers"
DIMENSION = "TopicName"
