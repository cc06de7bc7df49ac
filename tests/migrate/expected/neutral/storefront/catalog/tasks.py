from logging import getLogger as get_task_logger
from lexigram_compat import RetryPolicy, scheduled, task

logger = get_task_logger(__name__)


@scheduled(cron="30 3 * * *", name="rebuild-search-index", kwargs={"full": True}, queue="search")
@task(queue="search", timeout=600, soft_timeout=540.0, retry=RetryPolicy(max_attempts=1))
def rebuild_search_index(full=False):
    logger.info("rebuilding (full=%s)", full)


@task(queue="search", timeout=120, retry=RetryPolicy(max_attempts=1))
def reindex_product(product_id):
    logger.info("reindex %s", product_id)


@task(rate_limit="10/m", retry=RetryPolicy(max_attempts=1))
def fetch_supplier_prices(supplier_id):
    logger.info("prices for %s", supplier_id)
