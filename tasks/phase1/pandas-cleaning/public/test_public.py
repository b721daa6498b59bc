"""Public tests for phase1/pandas-cleaning: read them, run them with `grade check`.

Your functions run in a sandbox that cannot read files of the task: every test sends the
data itself (CSV text, or a DataFrame). `assert_same_frame` (the task's conftest.py)
compares frames with pandas.testing.assert_frame_equal and says the first difference.
"""

import io

import pandas as pd
import pytest

ORDERS_CSV = """\
order_id,customer_id,order_date,amount,quantity,status
1,C001,2024-01-05,"1,200.50",2,paid
2,2,03/02/2024,80.00 EUR,,PAID
2,2,03/02/2024,80.00 EUR,,PAID
3,1,2024-02-10,15.25,n/a, Cancelled
"""

CUSTOMERS_CSV = """\
customer_id,name,city,signup_date
1, Ada Lovelace ,  paris ,2023-01-15
2,Alan Turing,LYON,07/03/2023
3,Grace Hopper,,2023-05-02
2,Alan Turing,Paris ,07/03/2023
"""


def orders_frame(rows):
    columns = ["order_id", "customer_id", "order_date", "amount", "quantity", "status"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"order_id": "int64", "customer_id": "int64",
                         "order_date": "datetime64[us]", "amount": "float64",
                         "quantity": "int64", "status": "str"})


def test_load_orders_example(submission, assert_same_frame):
    expected = orders_frame([
        (1, 1, "2024-01-05", 1200.50, 2, "paid"),
        (2, 2, "2024-02-03", 80.00, 1, "paid"),
        (3, 1, "2024-02-10", 15.25, 1, "cancelled"),
    ])
    assert_same_frame(submission.load_orders(ORDERS_CSV), expected, "load_orders(ORDERS_CSV)")


def test_clean_customers_example(submission, assert_same_frame):
    raw = pd.read_csv(io.StringIO(CUSTOMERS_CSV))
    expected = pd.DataFrame({
        "customer_id": [1, 2, 3],
        "name": ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        "city": ["Paris", "Paris", "Unknown"],
        "signup_date": pd.to_datetime(["2023-01-15", "2023-03-07", "2023-05-02"]),
    })
    assert_same_frame(submission.clean_customers(raw), expected, "clean_customers(raw)")


def test_revenue_by_city_example(submission, assert_same_frame):
    orders = orders_frame([
        (1, 1, "2024-01-05", 100.0, 1, "paid"),
        (2, 2, "2024-01-20", 50.0, 1, "paid"),
        (3, 2, "2024-02-01", 25.0, 3, "paid"),
        (4, 1, "2024-02-11", 999.0, 1, "cancelled"),
    ])
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3],
        "name": ["Ada", "Alan", "Grace"],
        "city": ["Paris", "Lyon", "Lille"],
        "signup_date": pd.to_datetime(["2023-01-15", "2023-03-07", "2023-05-02"]),
    })
    expected = pd.DataFrame({
        "city": ["Paris", "Lyon", "Lille"],
        "n_customers": [1, 1, 1],
        "n_orders": [1, 2, 0],
        "revenue": [100.0, 75.0, 0.0],
    })
    assert_same_frame(submission.revenue_by_city(orders, customers), expected,
                      "revenue_by_city(orders, customers)")


def test_monthly_summary_example(submission, assert_same_frame):
    orders = orders_frame([
        (1, 1, "2024-01-05", 100.0, 2, "paid"),
        (2, 2, "2024-01-20", 50.0, 1, "paid"),
        (3, 2, "2024-03-01", 25.0, 3, "paid"),
        (4, 1, "2024-04-11", 999.0, 1, "cancelled"),
    ])
    expected = pd.DataFrame({
        "month": ["2024-01", "2024-02", "2024-03"],
        "n_orders": [2, 0, 1],
        "items": [3, 0, 3],
        "revenue": [150.0, 0.0, 25.0],
    })
    assert_same_frame(submission.monthly_summary(orders), expected, "monthly_summary(orders)")


def test_shipped_orders_dtypes(submission, task_data):
    orders = submission.load_orders((task_data / "orders.csv").read_text())
    wanted = {"order_id": "int64", "customer_id": "int64", "order_date": "datetime64",
              "amount": "float64", "quantity": "int64", "status": "str"}
    dtypes = {column: str(dtype) for column, dtype in orders.dtypes.items()}
    if list(dtypes) != list(wanted):
        pytest.fail(f"columns are {list(dtypes)}; they should be {list(wanted)}", pytrace=False)
    wrong = [f"{c} is {dtypes[c]}, not {d}" for c, d in wanted.items()
             if not dtypes[c].startswith(d) and d != "str"]
    if wrong:
        pytest.fail("; ".join(wrong), pytrace=False)
    if not orders["order_id"].is_unique:
        pytest.fail("some order_id appears more than once", pytrace=False)
