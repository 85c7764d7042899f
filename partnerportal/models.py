from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic job ran; /healthz reads it to prove beat and worker are alive."""

    name = models.CharField(max_length=100, primary_key=True)
    last_run_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_run_at:%Y-%m-%d %H:%M:%S}"

    def age_seconds(self, now) -> float:
        """Return how many seconds ago the job last ran."""
        return (now - self.last_run_at).total_seconds()
