"""The sample's orders, a cell at a time: Run Cell above a `# %%` line runs that cell on the
Kubernetes kernel, in the Interactive Window, from this file's folder in the pod."""

# %% Read the orders
from app.util import parse_row

rows = [parse_row(line) for line in open("data/input.csv").read().splitlines()[1:]]
rows

# %% What each order is worth
%matplotlib inline
import matplotlib.pyplot as plt

plt.bar([name for name, _, _ in rows], [quantity * price for _, quantity, price in rows])
plt.title("Order value")
plt.show()
