"""phase1/pandas-cleaning: load, clean, join and summarise messy CSVs with pandas.

Run `grade check phase1/pandas-cleaning` for the public tests and
`grade submit phase1/pandas-cleaning` for the full grading. The example files are in the
task's data/ folder; your functions receive their content, never a path.
"""

import io

import pandas as pd


def load_orders(csv_text):
    """Parse the text of orders.csv into a clean DataFrame with proper dtypes."""
    raw = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)  # all text
    raise NotImplementedError(f"clean the columns {list(raw.columns)}, then build the frame")


def clean_customers(raw):
    """Clean the raw customers frame: one spelling per city, one row per customer."""
    raise NotImplementedError("strip, title-case, fill, drop duplicates, sort")


def revenue_by_city(orders, customers):
    """Customers, paid orders and revenue per city, highest revenue first."""
    raise NotImplementedError("filter, merge, groupby, sort")


def monthly_summary(orders):
    """Paid orders, items and revenue per calendar month, without gaps."""
    raise NotImplementedError("group by month, then fill the months without orders")
