"""A lead's life after routing: stages, activities, outcomes, nurture and manual (re)assignment."""
