"""Mutant: monthly_summary leaves out months without paid orders (no reindex)."""

import io

import pandas as pd


def _dates(text):
    """ISO dates (2024-03-05) and day-first dates (05/03/2024) in one column."""
    text = text.str.strip()
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    day_first = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    return iso.fillna(day_first)


def load_orders(csv_text):
    raw = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw.drop_duplicates(subset="order_id", keep="first")
    amount = raw["amount"].str.removesuffix("EUR").str.replace(",", "").str.strip()
    quantity = pd.to_numeric(raw["quantity"], errors="coerce").fillna(1)
    orders = pd.DataFrame({
        "order_id": raw["order_id"].astype("int64"),
        "customer_id": raw["customer_id"].str.lstrip("Cc").astype("int64"),
        "order_date": _dates(raw["order_date"]),
        "amount": amount.astype("float64"),
        "quantity": quantity.astype("int64"),
        "status": raw["status"].str.lower(),
    })
    return orders.reset_index(drop=True)


def clean_customers(raw):
    customers = raw.drop_duplicates(subset="customer_id", keep="last")
    city = customers["city"].str.strip().str.title().replace("", pd.NA)
    customers = pd.DataFrame({
        "customer_id": customers["customer_id"].astype("int64"),
        "name": customers["name"].str.strip(),
        "city": city.fillna("Unknown"),
        "signup_date": _dates(customers["signup_date"].fillna("")),
    })
    return customers.sort_values("customer_id").reset_index(drop=True)


def revenue_by_city(orders, customers):
    paid = orders[orders["status"] == "paid"]
    joined = customers[["customer_id", "city"]].merge(paid, on="customer_id", how="left")
    table = joined.groupby("city").agg(
        n_customers=("customer_id", "nunique"),
        n_orders=("order_id", "count"),
        revenue=("amount", "sum"),
    ).reset_index()
    table = table.astype({"n_customers": "int64", "n_orders": "int64", "revenue": "float64"})
    table = table.sort_values(["revenue", "city"], ascending=[False, True])
    return table.reset_index(drop=True)


def monthly_summary(orders):
    paid = orders[orders["status"] == "paid"]
    month = paid["order_date"].dt.to_period("M")
    table = paid.groupby(month).agg(
        n_orders=("order_id", "count"),
        items=("quantity", "sum"),
        revenue=("amount", "sum"),
    )
    table = table.astype({"n_orders": "int64", "items": "int64", "revenue": "float64"})
    table.insert(0, "month", table.index.astype(str))
    return table.reset_index(drop=True)
