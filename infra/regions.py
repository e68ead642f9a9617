"""Print the regions the config names (for `make lint`)."""
from infra import config

if __name__ == "__main__":
    print(" ".join(sorted({env.region for env in config.load().environments.values()})))
