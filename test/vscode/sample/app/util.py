"""Reading the sample's order lines."""


def parse_row(line):
    """Splits a `name,quantity,price` line; a quantity or price that is not a number raises."""
    name, quantity, price = line.strip().split(",")
    return name, int(quantity), float(price)


def total(rows):
    return sum(quantity * price for _, quantity, price in rows)
