"""Hidden tests for phase1/pandas-cleaning (never shown to learners).

Expected frames come from the plain-Python oracle in this folder's conftest.py; the
data are the shipped CSVs and a fresh pair the learner has never seen.
"""

import io

import pandas as pd

HEADER_ORDERS = "order_id,customer_id,order_date,amount,quantity,status\n"
HEADER_CUSTOMERS = "customer_id,name,city,signup_date\n"


def read_raw(customers_text):
    """The customers frame exactly as `pd.read_csv` gives it, as the description says."""
    return pd.read_csv(io.StringIO(customers_text))


# ---------------------------------------------------------------- load_orders


def test_load_orders_full(submission, messy_csvs, oracle, assert_same_frame):
    _, orders_text = messy_csvs
    assert_same_frame(submission.load_orders(orders_text), oracle.load_orders(orders_text),
                      "load_orders(orders.csv)")


def test_load_orders_dates_two_formats(submission, oracle, assert_same_frame):
    text = HEADER_ORDERS + "".join(f"{i},1,{d},10.00,1,paid\n" for i, d in enumerate(
        ["2024-03-05", "05/03/2024", "2024-12-01", "01/12/2024", "2024-02-29", "31/01/2024",
         "2024-11-07", "07/11/2024"], start=1))
    assert_same_frame(submission.load_orders(text), oracle.load_orders(text),
                      "load_orders on dates written 2024-03-05 and 05/03/2024")


def test_load_orders_amounts(submission, oracle, assert_same_frame):
    amounts = ['"12,345.60 EUR"', '"1,000.00"', "7.50", "99.90 EUR", '"1,234,567.89"', "0.99"]
    text = HEADER_ORDERS + "".join(f"{i},1,2024-01-02,{a},1,paid\n"
                                   for i, a in enumerate(amounts, start=1))
    assert_same_frame(submission.load_orders(text), oracle.load_orders(text),
                      "load_orders on amounts with separators and units")


def test_load_orders_missing_quantity(submission, oracle, assert_same_frame):
    text = HEADER_ORDERS + "".join(f"{i},2,2024-01-02,5.00,{q},paid\n"
                                   for i, q in enumerate(["3", "", "n/a", "1", " ", "4"],
                                                         start=1))
    assert_same_frame(submission.load_orders(text), oracle.load_orders(text),
                      "load_orders on missing quantities")


def test_load_orders_duplicates(submission, oracle, assert_same_frame):
    lines = ["7,1,2024-01-02,5.00,1,paid", "3,2,2024-01-03,6.00,1,paid",
             "7,1,2024-01-02,5.00,1,paid", "5,C003,2024-01-04,7.00,2,cancelled",
             "3,2,2024-01-03,6.00,1,paid"]
    text = HEADER_ORDERS + "\n".join(lines) + "\n"
    assert_same_frame(submission.load_orders(text), oracle.load_orders(text),
                      "load_orders on an export with repeated orders")


# ---------------------------------------------------------------- clean_customers


def test_clean_customers_full(submission, messy_csvs, oracle, assert_same_frame):
    customers_text, _ = messy_csvs
    assert_same_frame(submission.clean_customers(read_raw(customers_text)),
                      oracle.clean_customers(customers_text), "clean_customers(customers.csv)")


def test_clean_customers_city_spelling(submission, oracle, assert_same_frame):
    cities = [" Paris", "paris", "PARIS", "Paris ", "le havre", "  LE HAVRE ", "Lyon"]
    text = HEADER_CUSTOMERS + "".join(f"{i},Name {i},{c},2023-01-0{i}\n"
                                      for i, c in enumerate(cities, start=1))
    assert_same_frame(submission.clean_customers(read_raw(text)), oracle.clean_customers(text),
                      "clean_customers on cities spelled ' Paris', 'paris', 'PARIS', ...")


def test_clean_customers_keeps_incomplete_rows(submission, oracle, assert_same_frame):
    text = HEADER_CUSTOMERS + ("4,Dana,Lille,2023-02-01\n2,Bo,,12/02/2023\n"
                               "3,Cy,Nantes,\n1,Al,,\n")
    assert_same_frame(submission.clean_customers(read_raw(text)), oracle.clean_customers(text),
                      "clean_customers on customers with a missing city or signup date")


def test_clean_customers_latest_record_wins(submission, oracle, assert_same_frame):
    text = HEADER_CUSTOMERS + ("2,Bo,Lyon,2023-01-05\n1,Al,Paris,2023-01-04\n"
                               "2,Bo,marseille,2023-01-05\n3,Cy,Lille,2023-01-06\n"
                               "1,Al,  toulouse,2023-01-04\n2,Bo,LILLE,2023-01-05\n")
    assert_same_frame(submission.clean_customers(read_raw(text)), oracle.clean_customers(text),
                      "clean_customers on customers listed more than once")


# ---------------------------------------------------------------- revenue_by_city


def test_revenue_by_city_full(submission, messy_csvs, oracle, assert_same_frame):
    customers_text, orders_text = messy_csvs
    orders = oracle.load_orders(orders_text)
    customers = oracle.clean_customers(customers_text)
    assert_same_frame(submission.revenue_by_city(orders, customers),
                      oracle.revenue_by_city(orders, customers),
                      "revenue_by_city(orders, customers)")


def _small_world(oracle):
    customers = oracle.frame([(1, "Al", "Paris", "2023-01-01"), (2, "Bo", "Lyon", "2023-01-02"),
                              (3, "Cy", "Lille", "2023-01-03"), (4, "Di", "Paris", None),
                              (5, "Ed", "Brest", "2023-01-05")], oracle.CUSTOMER_TYPES)
    orders = oracle.frame([(10, 1, "2024-01-01", 100.0, 1, "paid"),
                           (11, 2, "2024-01-02", 40.0, 1, "paid"),
                           (12, 2, "2024-01-03", 60.0, 2, "paid"),
                           (13, 3, "2024-01-04", 500.0, 1, "cancelled"),
                           (14, 99, "2024-01-05", 1000.0, 3, "paid"),
                           (15, 4, "2024-03-09", 0.5, 1, "paid")], oracle.ORDER_TYPES)
    return orders, customers


def test_revenue_by_city_keeps_cities_without_orders(submission, oracle, assert_same_frame):
    orders, customers = _small_world(oracle)
    assert_same_frame(submission.revenue_by_city(orders, customers),
                      oracle.revenue_by_city(orders, customers),
                      "revenue_by_city when some customers never ordered")


def test_revenue_by_city_counts_paid_orders_of_known_customers(submission, oracle,
                                                               assert_same_frame):
    orders, customers = _small_world(oracle)
    orders = orders.assign(status=["paid", "cancelled", "paid", "paid", "paid", "cancelled"])
    assert_same_frame(submission.revenue_by_city(orders, customers),
                      oracle.revenue_by_city(orders, customers),
                      "revenue_by_city with cancelled orders and an unknown customer")


# ---------------------------------------------------------------- monthly_summary


def test_monthly_summary_full(submission, messy_csvs, oracle, assert_same_frame):
    _, orders_text = messy_csvs
    orders = oracle.load_orders(orders_text)
    assert_same_frame(submission.monthly_summary(orders), oracle.monthly_summary(orders),
                      "monthly_summary(orders)")


def test_monthly_summary_fills_gaps(submission, oracle, assert_same_frame):
    orders = oracle.frame([(1, 1, "2023-11-30", 10.0, 1, "paid"),
                           (2, 1, "2023-10-01", 99.0, 1, "cancelled"),
                           (3, 2, "2024-02-01", 20.0, 2, "paid"),
                           (4, 2, "2024-02-29", 5.0, 3, "paid"),
                           (5, 3, "2024-05-15", 50.0, 1, "cancelled")], oracle.ORDER_TYPES)
    assert_same_frame(submission.monthly_summary(orders), oracle.monthly_summary(orders),
                      "monthly_summary across a new year with months without orders")


# ---------------------------------------------------------------- end to end


def test_pipeline_end_to_end(submission, messy_csvs, oracle, assert_same_frame):
    customers_text, orders_text = messy_csvs
    orders = submission.load_orders(orders_text)
    customers = submission.clean_customers(read_raw(customers_text))
    expected_orders = oracle.load_orders(orders_text)
    expected_customers = oracle.clean_customers(customers_text)
    assert_same_frame(submission.revenue_by_city(orders, customers),
                      oracle.revenue_by_city(expected_orders, expected_customers),
                      "revenue_by_city(load_orders(...), clean_customers(...))")
    assert_same_frame(submission.monthly_summary(orders),
                      oracle.monthly_summary(expected_orders),
                      "monthly_summary(load_orders(...))")
