"""The monitors as one web application: dfoMonitor, AB monitor, health check and history."""
