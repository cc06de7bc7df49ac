from celery import shared_task
from celery.utils.log import get_task_logger

logger = get_task_logger(__name__)


@shared_task(queue="search", time_limit=600, soft_time_limit=540)
def rebuild_search_index(full=False):
    logger.info("rebuilding (full=%s)", full)


@shared_task(queue="search", time_limit=120)
def reindex_product(product_id):
    logger.info("reindex %s", product_id)


@shared_task(rate_limit="10/m")
def fetch_supplier_prices(supplier_id):
    logger.info("prices for %s", supplier_id)
