"""The hidden tests' oracle: the task's rules written again with the csv module and plain
Python loops, independent of the pandas reference; and data no learner has seen.

``messy_csvs`` is a fixture parametrized over the shipped CSVs and a fresh pair made by
``data/make_data.py`` with another seed (in the grader, at test time).
"""

import csv
import datetime as dt
import io
import runpy

import pandas as pd
import pytest

ORDER_TYPES = {"order_id": "int64", "customer_id": "int64", "order_date": "datetime64[us]",
               "amount": "float64", "quantity": "int64", "status": "str"}
CUSTOMER_TYPES = {"customer_id": "int64", "name": "str", "city": "str",
                  "signup_date": "datetime64[us]"}
CITY_TYPES = {"city": "str", "n_customers": "int64", "n_orders": "int64", "revenue": "float64"}
MONTH_TYPES = {"month": "str", "n_orders": "int64", "items": "int64", "revenue": "float64"}
FRESH_SEED = 2024


def frame(rows, types):
    """A frame with exactly these columns and dtypes (also when there are no rows)."""
    return pd.DataFrame(rows, columns=list(types)).astype(types)


def parse_date(text):
    text = text.strip()
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%d" if "-" in text else "%d/%m/%Y")


def load_orders(text):
    rows, seen = [], set()
    for record in csv.DictReader(io.StringIO(text)):
        record = {k: (v or "").strip() for k, v in record.items()}
        order_id = int(record["order_id"])
        if order_id in seen:
            continue
        seen.add(order_id)
        amount = record["amount"].removesuffix("EUR").replace(",", "").strip()
        quantity = record["quantity"]
        rows.append((order_id, int(record["customer_id"].lstrip("Cc")),
                     parse_date(record["order_date"]), float(amount),
                     int(quantity) if quantity.isdigit() else 1, record["status"].lower()))
    return frame(rows, ORDER_TYPES)


def clean_customers(text):
    latest = {}
    for record in csv.DictReader(io.StringIO(text)):
        record = {k: (v or "").strip() for k, v in record.items()}
        customer_id = int(record["customer_id"])
        latest[customer_id] = (customer_id, record["name"], record["city"].title() or "Unknown",
                               parse_date(record["signup_date"]))
    return frame([latest[k] for k in sorted(latest)], CUSTOMER_TYPES)


def _paid(orders):
    return [o for o in orders.itertuples(index=False) if o.status == "paid"]


def revenue_by_city(orders, customers):
    city_of = dict(zip(customers["customer_id"], customers["city"], strict=True))
    table = {city: [0, 0, 0.0] for city in city_of.values()}
    for city in city_of.values():
        table[city][0] += 1
    for order in _paid(orders):
        if order.customer_id in city_of:
            row = table[city_of[order.customer_id]]
            row[1] += 1
            row[2] += order.amount
    rows = sorted(((c, *v) for c, v in table.items()), key=lambda r: (-r[3], r[0]))
    return frame(rows, CITY_TYPES)


def monthly_summary(orders):
    months = {}
    for order in _paid(orders):
        key = (order.order_date.year, order.order_date.month)
        row = months.setdefault(key, [0, 0, 0.0])
        row[0] += 1
        row[1] += order.quantity
        row[2] += order.amount
    rows = []
    if months:
        (year, month), last = min(months), max(months)
        while (year, month) <= last:
            rows.append((f"{year:04d}-{month:02d}", *months.get((year, month), [0, 0, 0.0])))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return frame(rows, MONTH_TYPES)


@pytest.fixture(params=["shipped", "fresh"])
def messy_csvs(request, task_data):
    """(customers CSV text, orders CSV text): the shipped files, or a freshly made pair."""
    if request.param == "shipped":
        return (task_data / "customers.csv").read_text(), (task_data / "orders.csv").read_text()
    make = runpy.run_path(str(task_data / "make_data.py"), run_name="make_data")["make"]
    return make(FRESH_SEED, n_customers=48, n_orders=200)


@pytest.fixture
def oracle():
    """The plain-Python rules, as functions of CSV text (loaders) or of clean frames."""
    from types import SimpleNamespace

    return SimpleNamespace(load_orders=load_orders, clean_customers=clean_customers,
                           revenue_by_city=revenue_by_city, monthly_summary=monthly_summary,
                           frame=frame, ORDER_TYPES=ORDER_TYPES, CUSTOMER_TYPES=CUSTOMER_TYPES)
