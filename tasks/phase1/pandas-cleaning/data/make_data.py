"""Writes the task's messy CSVs, deterministically: `python make_data.py` (seed 7).

`customers.csv` and `orders.csv` beside this file are its output for the default seed;
the hidden tests also call `make(seed)` with other seeds, in the grader, for data no
learner has seen. Standard library only, so the output never changes with a package.
"""

import csv
import datetime as dt
import io
import random
import sys
from pathlib import Path

CITIES = ["Paris", "Lyon", "Marseille", "Lille", "Toulouse", "Nantes", "Le Havre"]
#: Customers of this city never order: their city must still appear in the revenue table.
QUIET_CITY = "Le Havre"
FIRST = ["Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Gaëlle", "Hugo", "Inès",
         "Jules", "Karim", "Léa", "Malik", "Nina", "Oscar", "Paul", "Rose", "Sami"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Michel"]
CLOSED_MONTH = 8  # no orders at all in August: the monthly summary must still list it


def _messy_city(r: random.Random, city: str) -> str:
    return r.choice([city, city, city.lower(), city.upper(), f" {city}", f"{city} ",
                     f"  {city.lower()} "])


def _messy_date(r: random.Random, day: dt.date) -> str:
    return day.isoformat() if r.random() < 0.6 else day.strftime("%d/%m/%Y")


def _messy_amount(r: random.Random, amount: float) -> str:
    text = f"{amount:,.2f}"  # a thousands separator from 1,000.00 on
    return text + " EUR" if r.random() < 0.3 else text


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def make(seed: int = 7, n_customers: int = 36, n_orders: int = 120) -> tuple[str, str]:
    """The text of customers.csv and orders.csv for ``seed``."""
    r = random.Random(seed)
    customers, homes = [], {}
    for cid in range(1, n_customers + 1):
        city = QUIET_CITY if cid in (5, 23) else r.choice(CITIES[:-1])
        homes[cid] = city
        name = f"{r.choice(FIRST)} {r.choice(LAST)}"
        if r.random() < 0.2:
            name = f" {name}  "
        signup = dt.date(2022, 1, 1) + dt.timedelta(days=r.randrange(730))
        customers.append([str(cid), name, _messy_city(r, city), _messy_date(r, signup)])
    for row in r.sample(customers, 3):
        row[2] = ""  # unknown city
    for row in r.sample(customers, 2):
        row[3] = ""  # unknown signup date
    # Updates appended later in the file: the same customer_id, a newer record.
    for cid in r.sample([c for c in homes if homes[c] != QUIET_CITY], 4):
        moved = r.choice([c for c in CITIES[:-1] if c != homes[cid]])
        homes[cid] = moved
        old = customers[cid - 1]
        customers.append([str(cid), old[1].strip(), _messy_city(r, moved), old[3]])

    buyers = [c for c in homes if homes[c] != QUIET_CITY]
    orders = []
    for i in range(n_orders):
        cid = r.choice(buyers) if i % 40 != 17 else r.randrange(900, 1000)  # unknown ones
        written = f"C{cid:03d}" if r.random() < 0.25 else str(cid)
        month = r.choice([m for m in range(1, 13) if m != CLOSED_MONTH])
        day = dt.date(2024, month, r.randrange(1, 29))
        amount = round(r.uniform(5, 2500) if r.random() < 0.8 else r.uniform(1000, 9000), 2)
        quantity = str(r.randrange(1, 6))
        roll = r.random()
        if roll < 0.08:
            quantity = ""
        elif roll < 0.12:
            quantity = "n/a"
        status = "paid" if r.random() < 0.85 else "cancelled"
        status = r.choice([status, status, status.upper(), status.title(), f" {status} "])
        orders.append([str(1001 + i), written, _messy_date(r, day), _messy_amount(r, amount),
                       quantity, status])
    for row in r.sample(orders, 5):  # the same order exported twice
        orders.insert(r.randrange(orders.index(row) + 1, len(orders) + 1), list(row))

    return (_csv(["customer_id", "name", "city", "signup_date"], customers),
            _csv(["order_id", "customer_id", "order_date", "amount", "quantity", "status"],
                 orders))


def main(argv: list[str]) -> None:
    seed = int(argv[1]) if len(argv) > 1 else 7
    customers, orders = make(seed)
    here = Path(__file__).parent
    (here / "customers.csv").write_text(customers)
    (here / "orders.csv").write_text(orders)


if __name__ == "__main__":
    main(sys.argv)
