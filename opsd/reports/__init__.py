"""History beyond raw results: hourly and daily rollups, SLOs with burn-rate alerts, and the
daily, weekly and monthly reports (rendering, charts, delivery by e-mail, chat and Notion)."""
